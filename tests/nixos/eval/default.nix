# Evaluates nixos/module.nix (nixosModules.default) for one host of a
# manifest, as flake.nix's nixosSystem does, with the real module system
# (see ./system.nix): the host's whole config, every option value merged and
# type-checked when printed with --strict; failed assertions throw.
#
#   nix-instantiate --eval --strict --json tests/nixos/eval \
#     --arg nixpkgsLib ../shared/nixpkgs-lib/lib --arg manifestPath ./nixos/service-manifest.nix \
#     --argstr host caddy --argstr secretsRoot /tmp/secrets --arg caCertificate ./ca.crt
{ nixpkgsLib, manifestPath, host, secretsRoot, caCertificate ? null }:
let
  ownHost = ../../../nixos/hosts + "/${host}.nix";
  system = import ./system.nix { inherit nixpkgsLib secretsRoot caCertificate; } {
    modules = [
      ./sops-nix.nix
      ./authentik-nix.nix
      ../../../nixos/module.nix
      {
        nixmox.host = host;
        nixmox.manifest = import manifestPath;
      }
    ] ++ (if builtins.pathExists ownHost then [ ownHost ] else [ ]);
  };
  toplevel = system.config.system.build.toplevel;
in
builtins.seq toplevel.outPath toplevel.dump
