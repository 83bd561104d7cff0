# The two options every NixMox service module has:
#   enable  - on when this host is the manifest service the module serves;
#   service - which manifest service that is (default: the module's name).
# Usage: options.services.nixmox.NAME = import ../service-options.nix { inherit lib config; name = "NAME"; what = "..."; };
{ lib, config, name, what, default ? name }:
{
  enable = lib.mkOption {
    type = lib.types.bool;
    default = config.nixmox.host == config.services.nixmox.${name}.service;
    defaultText = lib.literalExpression "config.nixmox.host == config.services.nixmox.${name}.service";
    description = "Run ${what} on this host.";
  };
  service = lib.mkOption {
    type = lib.types.str;
    inherit default;
    description = "The manifest service this host runs ${what} for.";
  };
}
