# Every service of the manifest (core_services and services merged), with the
# defaults of the schema filled in, and lookup by name.
{ manifest }:
let
  u = import ./util.nix;

  core = manifest.core_services or { };
  apps = manifest.services or { };
  clash = builtins.filter (n: apps ? ${n}) (builtins.attrNames core);

  normalizeDb = name: db: {
    name = db.name or name;
    port = db.port or 5432;
    mode = db.mode or "shared";
    owner = db.owner or (db.name or name);
    extensions = db.extensions or [ ];
  } // removeAttrs db [ "name" "port" "mode" "owner" "extensions" ];

  normalizeProxy = name: svc: p:
    let up = u.parseHostPort "${name}.interface.proxy.upstream" p.upstream;
    in {
      domain = p.domain or svc.hostname;
      path = p.path or "/";
      tls = p.tls or true;
      authz = p.authz or false;
      upstream_host = up.host;
      upstream_port = up.port;
    } // p;

  normalize = group: name: svc:
    let
      i = svc.interface or { };
    in
    {
      inherit name group;
      enable = svc.enable or true;
      depends_on = svc.depends_on or [ ];
      ports = svc.ports or [ ];
    } // svc // {
      interface = i // {
        terraform = {
          modules = [ ];
          targets = [ ];
          variables = { };
        } // (i.terraform or { });
        db = if i ? db then normalizeDb name i.db else null;
        proxy = if i ? proxy then normalizeProxy name svc i.proxy else null;
        auth = i.auth or null;
        health = i.health or null;
        logs = { unit = name; } // (i.logs or { });
      };
    };

  all =
    if clash != [ ] then
      throw "nixmox: service(s) defined in both core_services and services: ${builtins.concatStringsSep ", " clash}"
    else
      builtins.mapAttrs (normalize "core_services") core
      // builtins.mapAttrs (normalize "services") apps;

  enabled = u.filterAttrs (_: s: s.enable) all;
in
{
  inherit all enabled;
  names = builtins.attrNames all;
  enabledNames = builtins.attrNames enabled;

  # Look a service up by name; an unknown name is an error that names it.
  get = name:
    all.${name} or (throw "nixmox: unknown service \"${name}\" (the manifest has: ${builtins.concatStringsSep ", " (builtins.attrNames all)})");
}
