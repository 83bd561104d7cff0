# Wiki.js on the shared PostgreSQL (pg_trgm from the manifest's
# db.extensions, for its PostgreSQL search engine). Its OIDC login is a
# Wiki.js authentication strategy, configured in its admin UI with the
# client id/secret nixos/lib/oidc.nix names.
{ config, lib, nixmox, ... }:

let
  cfg = config.services.nixmox.wikijs;
  svc = nixmox.service cfg.service;
  db = nixmox.postgresql.forService cfg.service;
  server = nixmox.postgresql.server;
in
{
  options.services.nixmox.wikijs = import ./service-options.nix {
    inherit lib config;
    name = "wikijs";
    what = "Wiki.js";
  };

  config = lib.mkIf cfg.enable {
    assertions = [{
      assertion = db != null;
      message = "services.nixmox.wikijs: ${cfg.service} has no interface.db";
    }];

    services.wiki-js = {
      enable = true;
      environmentFile = config.sops.templates."wiki-js.env".path;
      settings = {
        port = svc.interface.proxy.upstream_port;
        bindIP = "0.0.0.0";
        db = {
          type = "postgres";
          host = server.ip;
          port = server.port;
          db = db.name;
          user = db.owner;
          # Wiki.js expands $(VAR) from its environment (the SOPS template).
          pass = "$(DB_PASS)";
        };
      };
    };

    sops.templates."wiki-js.env".content = ''
      DB_PASS=${config.sops.placeholder."${cfg.service}/db_password"}
    '';
  };
}
