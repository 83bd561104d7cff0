# nixos/lib: everything NixMox derives from the manifest, in pure Nix
# (builtins only: evaluates with a bare nix-instantiate, no nixpkgs).
#
#   nixmox = import ./lib { manifest = import ./service-manifest.nix; };
#   nixmox.caddy.caddyfile, nixmox.postgresql.ensureSql, nixmox.hosts.hosts.<name>, ...
#
# `settings` overrides single defaults of ./settings.nix, per section.
{ manifest, settings ? { } }:
let
  args = { inherit manifest settings; };
  services = import ./services.nix { inherit manifest; };
in
{
  inherit services;
  settings = import ./settings.nix settings;
  service = services.get;
  caddy = import ./caddy.nix args;
  postgresql = import ./postgresql.nix args;
  hosts = import ./hosts.nix args;
  terraform = import ./terraform.nix args;
  secrets = import ./secrets.nix args;
  oidc = import ./oidc.nix args;
}
