# Authentik, the identity provider: OIDC for the applications and the
# forward-auth outpost Caddy asks (embedded outpost on port 9000).
# services.authentik comes from the authentik-nix flake (see flake.nix).
{ config, lib, nixmox, ... }:

let
  cfg = config.services.nixmox.authentik;
  db = nixmox.postgresql.forService cfg.service;
  server = nixmox.postgresql.server;
  sec = name: config.sops.placeholder."${cfg.service}/${name}";
in
{
  options.services.nixmox.authentik = {
    enable = lib.mkOption {
      type = lib.types.bool;
      default = config.nixmox.host == cfg.service;
      defaultText = lib.literalExpression ''config.nixmox.host == config.services.nixmox.authentik.service'';
      description = "Run Authentik on this host.";
    };
    service = lib.mkOption {
      type = lib.types.str;
      default = nixmox.settings.caddy.authProvider;
      description = "The manifest service that is the identity provider.";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [{
      assertion = db != null;
      message = "services.nixmox.authentik: ${cfg.service} has no interface.db (Authentik needs PostgreSQL)";
    }];

    services.authentik = {
      enable = true;
      # The database lives on the shared server, created from the manifest.
      createDatabase = false;
      environmentFile = config.sops.templates."authentik.env".path;
      settings = {
        disable_startup_analytics = true;
        avatars = "initials";
        listen.http = "0.0.0.0:${toString (lib.head ((nixmox.service cfg.service).ports ++ [ 9000 ]))}";
        postgresql = {
          host = server.ip;
          port = server.port;
          name = db.name;
          user = db.owner;
        };
      };
    };

    sops.templates."authentik.env".content = ''
      AUTHENTIK_SECRET_KEY=${sec "secret_key"}
      AUTHENTIK_POSTGRESQL__PASSWORD=${sec "db_password"}
    '';
  };
}
