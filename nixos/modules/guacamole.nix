# Apache Guacamole: guacd plus the web client in Tomcat, users in the shared
# PostgreSQL, login through the manifest's OIDC provider. Caddy proxies it
# plainly (the seed's special case: websocket tunnel, its own login).
#
# The PostgreSQL and OpenID authentication extensions are separate jars that
# nixpkgs does not package: list them in services.nixmox.guacamole.extensions.
{ config, lib, nixmox, ... }:

let
  cfg = config.services.nixmox.guacamole;
  svc = nixmox.service cfg.service;
  db = nixmox.postgresql.forService cfg.service;
  server = nixmox.postgresql.server;
  oidc = nixmox.oidc.clients.${cfg.service} or null;
in
{
  options.services.nixmox.guacamole = import ./service-options.nix {
    inherit lib config;
    name = "guacamole";
    what = "Guacamole";
  } // {
    extensions = lib.mkOption {
      type = lib.types.listOf lib.types.path;
      default = [ ];
      example = lib.literalExpression "[ ./guacamole-auth-jdbc-postgresql-1.5.5.jar ./guacamole-auth-sso-openid-1.5.5.jar ]";
      description = "Guacamole extension jars (JDBC PostgreSQL, SSO OpenID) installed into GUACAMOLE_HOME/extensions.";
    };
  };

  config = lib.mkIf cfg.enable {
    warnings = lib.optional (cfg.extensions == [ ])
      "services.nixmox.guacamole.extensions is empty: Guacamole will not use PostgreSQL or OpenID until the auth extension jars are listed.";

    services.guacamole-server = {
      enable = true;
      host = "127.0.0.1";
      port = 4822;
    };

    services.guacamole-client = {
      enable = true;
      enableWebserver = true;
      settings = {
        guacd-hostname = "127.0.0.1";
        guacd-port = 4822;
        # POSTGRESQL_PASSWORD comes from Tomcat's environment (SOPS), not from this file.
        enable-environment-properties = "true";
      } // lib.optionalAttrs (db != null) {
        postgresql-hostname = server.ip;
        postgresql-port = server.port;
        postgresql-database = db.name;
        postgresql-username = db.owner;
      } // lib.optionalAttrs (oidc != null) {
        openid-authorization-endpoint = oidc.authorize_url;
        openid-jwks-endpoint = "${lib.removeSuffix "/" oidc.issuer}/jwks/";
        openid-issuer = oidc.issuer;
        openid-client-id = oidc.client_id;
        openid-redirect-uri = lib.head (oidc.redirect_uris ++ [ "https://${svc.interface.proxy.domain}/guacamole/" ]);
        openid-username-claim-type = oidc.username_claim;
        openid-groups-claim-type = oidc.groups_claim;
        openid-scope = lib.concatStringsSep " " oidc.scopes;
      };
    };

    environment.etc = lib.listToAttrs (map
      (jar: lib.nameValuePair "guacamole/extensions/${baseNameOf (toString jar)}" { source = jar; })
      cfg.extensions);

    systemd.services.tomcat.serviceConfig.EnvironmentFile =
      lib.mkIf (db != null) config.sops.templates."guacamole.env".path;
    sops.templates."guacamole.env" = lib.mkIf (db != null) {
      owner = "tomcat";
      content = ''
        POSTGRESQL_PASSWORD=${config.sops.placeholder."${cfg.service}/db_password"}
      '';
    };

    # Tomcat's connector is fixed at 8080 by its default server.xml.
    assertions = [{
      assertion = svc.interface.proxy.upstream_port == 8080;
      message = "services.nixmox.guacamole: the manifest's proxy upstream port must be 8080 (Tomcat's connector)";
    }];
  };
}
