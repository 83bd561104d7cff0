# Vaultwarden on the shared PostgreSQL, with SSO through the manifest's OIDC
# provider. Listens on the manifest's proxy upstream port.
{ config, lib, nixmox, ... }:

let
  cfg = config.services.nixmox.vaultwarden;
  svc = nixmox.service cfg.service;
  db = nixmox.postgresql.forService cfg.service;
  server = nixmox.postgresql.server;
  # The application's own OIDC login (it holds a client secret); null when
  # it has none or sits behind forward_auth (the outpost logs in for it).
  oidc = let c = nixmox.oidc.clients.${cfg.service} or null; in
    if c != null && c.client_secret != null then c else null;
  sec = name: config.sops.placeholder."${cfg.service}/${name}";
in
{
  options.services.nixmox.vaultwarden = import ./service-options.nix {
    inherit lib config;
    name = "vaultwarden";
    what = "Vaultwarden";
  };

  config = lib.mkIf cfg.enable {
    assertions = [{
      assertion = db != null;
      message = "services.nixmox.vaultwarden: ${cfg.service} has no interface.db";
    }];

    services.vaultwarden = {
      enable = true;
      dbBackend = "postgresql";
      environmentFile = config.sops.templates."vaultwarden.env".path;
      config = {
        DOMAIN = "https://${svc.interface.proxy.domain}";
        ROCKET_ADDRESS = "0.0.0.0";
        ROCKET_PORT = svc.interface.proxy.upstream_port;
        SIGNUPS_ALLOWED = false;
        # No password in the URL: libpq takes it from PGPASSWORD (SOPS template).
        DATABASE_URL = "postgresql://${db.owner}@${server.ip}:${toString server.port}/${db.name}";
      } // lib.optionalAttrs (oidc != null) {
        SSO_ENABLED = true;
        SSO_AUTHORITY = oidc.issuer;
        SSO_CLIENT_ID = oidc.client_id;
        SSO_SCOPES = lib.concatStringsSep " " oidc.scopes;
      };
    };

    sops.templates."vaultwarden.env" = {
      owner = "vaultwarden";
      content = ''
        PGPASSWORD=${sec "db_password"}
      '' + lib.optionalString (oidc != null) ''
        SSO_CLIENT_SECRET=${sec "oidc_client_secret"}
      '';
    };
  };
}
