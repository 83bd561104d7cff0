# Miniflux on the shared PostgreSQL, with login through the manifest's OIDC
# provider. (Miniflux >= 2.2.14 must NOT have hstore: keep db.extensions empty.)
{ config, lib, nixmox, ... }:

let
  cfg = config.services.nixmox.miniflux;
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
  options.services.nixmox.miniflux = import ./service-options.nix {
    inherit lib config;
    name = "miniflux";
    what = "Miniflux";
  };

  config = lib.mkIf cfg.enable {
    assertions = [{
      assertion = db != null;
      message = "services.nixmox.miniflux: ${cfg.service} has no interface.db";
    }];

    services.miniflux = {
      enable = true;
      createDatabaseLocally = false;
      # An EnvironmentFile (read by systemd, not by the DynamicUser): the
      # admin credentials and every other secret setting.
      adminCredentialsFile = config.sops.templates."miniflux.env".path;
      config = {
        LISTEN_ADDR = "0.0.0.0:${toString svc.interface.proxy.upstream_port}";
        BASE_URL = "https://${svc.interface.proxy.domain}/";
        # No password in the URL: lib/pq takes it from PGPASSWORD (below).
        DATABASE_URL = "postgres://${db.owner}@${server.ip}:${toString server.port}/${db.name}?sslmode=disable";
        RUN_MIGRATIONS = 1;
      } // lib.optionalAttrs (oidc != null) {
        OAUTH2_PROVIDER = "oidc";
        OAUTH2_CLIENT_ID = oidc.client_id;
        # go-oidc compares the discovered issuer with this byte for byte:
        # Authentik's issuer ends in "/", so this must too.
        OAUTH2_OIDC_DISCOVERY_ENDPOINT = oidc.issuer;
        OAUTH2_REDIRECT_URL = lib.head oidc.redirect_uris;
        OAUTH2_USER_CREATION = 1;
      };
    };

    sops.templates."miniflux.env".content = ''
      ADMIN_USERNAME=admin
      ADMIN_PASSWORD=${sec "admin_password"}
      PGPASSWORD=${sec "db_password"}
    '' + lib.optionalString (oidc != null) ''
      OAUTH2_CLIENT_SECRET=${sec "oidc_client_secret"}
    '';
  };
}
