# Nextcloud (nginx + PHP-FPM) on the shared PostgreSQL, behind Caddy, with
# login through the manifest's OIDC provider (user_oidc app).
{ config, lib, pkgs, nixmox, ... }:

let
  cfg = config.services.nixmox.nextcloud;
  svc = nixmox.service cfg.service;
  db = nixmox.postgresql.forService cfg.service;
  server = nixmox.postgresql.server;
  # The application's own OIDC login (it holds a client secret); null when
  # it has none or sits behind forward_auth (the outpost logs in for it).
  oidc = let c = nixmox.oidc.clients.${cfg.service} or null; in
    if c != null && c.client_secret != null then c else null;
  proxyIp = (nixmox.service nixmox.settings.caddy.service).ip;
  secret = name: config.sops.secrets."${cfg.service}/${name}".path;
  occ = "${config.services.nextcloud.occ}/bin/nextcloud-occ";
in
{
  options.services.nixmox.nextcloud = import ./service-options.nix {
    inherit lib config;
    name = "nextcloud";
    what = "Nextcloud";
  } // {
    package = lib.mkOption {
      type = lib.types.package;
      default = pkgs.nextcloud33;
      defaultText = lib.literalExpression "pkgs.nextcloud33";
      description = "Nextcloud package (pin the major version: upgrades go one major at a time).";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [{
      assertion = db != null;
      message = "services.nixmox.nextcloud: ${cfg.service} has no interface.db";
    }];

    services.nextcloud = {
      enable = true;
      package = cfg.package;
      hostName = svc.interface.proxy.domain;
      https = true;
      database.createLocally = false;
      configureRedis = true;
      config = {
        dbtype = "pgsql";
        dbhost = "${server.ip}:${toString server.port}";
        dbname = db.name;
        dbuser = db.owner;
        dbpassFile = secret "db_password";
        adminuser = "admin";
        adminpassFile = secret "admin_password";
      };
      settings = {
        trusted_proxies = [ proxyIp ];
        overwriteprotocol = "https";
        trusted_domains = [ svc.hostname ];
      };
      extraApps = lib.optionalAttrs (oidc != null) {
        inherit (config.services.nextcloud.package.packages.apps) user_oidc;
      };
    };

    sops.secrets = {
      "${cfg.service}/db_password".owner = "nextcloud";
      "${cfg.service}/admin_password".owner = "nextcloud";
    } // lib.optionalAttrs (oidc != null) {
      # occ runs as nextcloud and reads it itself (--clientsecret-file).
      "${cfg.service}/oidc_client_secret".owner = "nextcloud";
    };

    # Register the OIDC provider with user_oidc (idempotent: it updates). The
    # client secret is passed as a file name, never on a command line.
    systemd.services.nixmox-nextcloud-oidc = lib.mkIf (oidc != null) {
      description = "Register ${oidc.provider} as Nextcloud's OIDC provider";
      wantedBy = [ "multi-user.target" ];
      after = [ "nextcloud-setup.service" ];
      requires = [ "nextcloud-setup.service" ];
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
      };
      script = ''
        ${occ} user_oidc:provider ${lib.escapeShellArg oidc.provider} \
          --clientid=${lib.escapeShellArg oidc.client_id} \
          --clientsecret-file=${lib.escapeShellArg (secret "oidc_client_secret")} \
          --discoveryuri=${lib.escapeShellArg oidc.discovery_url} \
          --scope=${lib.escapeShellArg (lib.concatStringsSep " " oidc.scopes)} \
          --mapping-uid=${lib.escapeShellArg oidc.username_claim} \
          --group-provisioning=1 --mapping-groups=${lib.escapeShellArg oidc.groups_claim}
      '';
    };
  };
}
