{ config, lib, nixmox, ... }:

let
  cfg = config.services.nixmox.grafana;
  svc = nixmox.service cfg.service;
  proxy = svc.interface.proxy;
  db = nixmox.postgresql.forService cfg.service;
  server = nixmox.postgresql.server;
  oidc = nixmox.oidc.clients.${cfg.service} or null;
  enabled = nixmox.services.enabled;
  prometheus = enabled.${config.services.nixmox.prometheus.service} or null;
  loki = enabled.${config.services.nixmox.loki.service} or null;
  file = name: "$__file{${config.sops.secrets."${cfg.service}/${name}".path}}";
  proxyIp = (nixmox.service nixmox.settings.caddy.service).ip;
in
{
  options.services.nixmox.grafana = import ../service-options.nix {
    inherit lib config;
    name = "grafana";
    what = "Grafana";
  };

  config = lib.mkIf cfg.enable {
    services.grafana = {
      enable = true;
      settings = {
        server = {
          http_addr = "0.0.0.0";
          http_port = proxy.upstream_port;
          domain = proxy.domain;
          root_url = "https://${proxy.domain}/";
        };
        security.secret_key = file "secret_key";
        database = lib.optionalAttrs (db != null) {
          type = "postgres";
          host = "${server.ip}:${toString server.port}";
          name = db.name;
          user = db.owner;
          password = file "db_password";
        };
        # Behind forward_auth the outpost has logged the user in already and
        # Caddy passes who it is (clients cannot set X-Authentik-*: Caddy
        # strips them); only Caddy's address may send that header.
        "auth.proxy" = lib.optionalAttrs (oidc != null && oidc.forward_auth) {
          enabled = true;
          header_name = "X-Authentik-Username";
          header_property = "username";
          auto_sign_up = true;
          whitelist = proxyIp;
          headers = "Email:X-Authentik-Email Name:X-Authentik-Name Groups:X-Authentik-Groups";
        };
        # An application that speaks OIDC itself logs in with its client secret.
        "auth.generic_oauth" = lib.optionalAttrs (oidc != null && !oidc.forward_auth) {
          enabled = true;
          name = oidc.provider;
          client_id = oidc.client_id;
          client_secret = file "oidc_client_secret";
          scopes = lib.concatStringsSep " " oidc.scopes;
          auth_url = oidc.authorize_url;
          token_url = oidc.token_url;
          api_url = oidc.userinfo_url;
          signout_redirect_url = oidc.end_session_url;
          login_attribute_path = oidc.username_claim;
          role_attribute_path = "contains(${oidc.groups_claim}[*], 'Grafana Admins') && 'Admin' || 'Viewer'";
        };
      };
      provision = {
        enable = true;
        datasources.settings.datasources =
          lib.optional (prometheus != null) {
            name = "Prometheus";
            type = "prometheus";
            url = "http://${prometheus.interface.proxy.upstream or "${prometheus.ip}:9090"}";
            isDefault = true;
          }
          ++ lib.optional (loki != null) {
            name = "Loki";
            type = "loki";
            url = "http://${loki.interface.proxy.upstream or "${loki.ip}:3100"}";
          };
      };
    };

    sops.secrets = lib.genAttrs
      (map (n: "${cfg.service}/${n}") ([ "secret_key" ]
        ++ lib.optional (db != null) "db_password"
        ++ lib.optional (oidc != null && !oidc.forward_auth) "oidc_client_secret"))
      (_: { owner = "grafana"; restartUnits = [ "grafana.service" ]; });
  };
}
