# nixosModules.default: every NixMox module, bringing its own arguments.
# It needs nothing passed in specialArgs: the manifest (default: this
# directory's service-manifest.nix) and the lib's settings are options, and
# the `manifest` and `nixmox` arguments the modules take are derived here.
#
#   imports = [ sops-nix.nixosModules.sops authentik-nix.nixosModules.default nixmox.nixosModules.default ];
#   nixmox.host = "vaultwarden";
{ config, lib, ... }:
{
  imports = [ ./modules ];

  options.nixmox = {
    manifest = lib.mkOption {
      type = lib.types.attrs;
      default = import ./service-manifest.nix;
      defaultText = lib.literalExpression "import nixos/service-manifest.nix";
      description = "The NixMox service manifest (network, core_services, services).";
    };
    settings = lib.mkOption {
      type = lib.types.attrs;
      default = { };
      description = "Overrides of nixos/lib/settings.nix, per section (e.g. { caddy.certFile = ...; }).";
    };
  };

  config._module.args = {
    inherit (config.nixmox) manifest;
    nixmox = import ./lib { inherit (config.nixmox) manifest settings; };
  };
}
