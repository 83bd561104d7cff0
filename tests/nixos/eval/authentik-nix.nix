# Typed declarations of the authentik-nix module's options that NixMox sets
# (nix-community/authentik-nix module.nix: settings is a freeform YAML
# submodule; environmentFile an absolute path outside the store).
{ lib, ... }:
let
  inherit (lib) mkOption types;
  value = types.nullOr (types.oneOf [ types.bool types.int types.float types.str types.path (types.attrsOf value) (types.listOf value) ]);
in
{
  options.services.authentik = {
    enable = mkOption { type = types.bool; default = false; };
    createDatabase = mkOption { type = types.bool; default = true; };
    environmentFile = mkOption {
      type = types.nullOr (types.pathWith { inStore = false; absolute = true; });
      default = null;
    };
    settings = mkOption {
      type = types.submodule { freeformType = types.attrsOf value; };
      default = { };
    };
  };
}
