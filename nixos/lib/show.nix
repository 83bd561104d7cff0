# What the NixOS side generates for one service, for `nixmox show`:
#
#   nix-instantiate --eval --strict --json nixos/lib/show.nix \
#     --arg manifestPath ./nixos/service-manifest.nix --argstr service vaultwarden
#
# manifestPath: a Nix path, or an absolute path string (--argstr); a .json
# manifest is read as JSON. An unknown service is an error naming it.
{ manifestPath ? ../service-manifest.nix, service, settings ? { } }:
let
  path = if builtins.isPath manifestPath then manifestPath
    else if builtins.isString manifestPath && builtins.substring 0 1 manifestPath == "/" then /. + manifestPath
    else throw "nixmox: manifestPath must be a path or an absolute path string, got ${builtins.toJSON manifestPath}";
  isJson = builtins.match ".*\\.json" (toString path) != null;
  manifest = if isJson then builtins.fromJSON (builtins.readFile path) else import path;
  nixmox = import ./. { inherit manifest settings; };
  s = nixmox.service service;
  db = s.interface.db;
  pg = nixmox.postgresql;
in
{
  service = s;
  caddy_site = nixmox.caddy.sites.${service}.text or null;
  # Why a service with a proxy block has no site (null otherwise).
  caddy_skipped = nixmox.caddy.skipped.${service} or null;
  database =
    if db == null || !s.enable then null
    else if db.mode == "standalone" then {
      role = "server";
      inherit (pg.server) port;
      databases = pg.ensureDatabases;
      hba = pg.hba;
    } else pg.forService service // { role = "client"; server = pg.server; };
  host = nixmox.hosts.hosts.${service} or null;
  secrets = builtins.attrValues (nixmox.secrets.byHost.${service} or { });
  terraform = nixmox.terraform.containers.${service} or null;
}
