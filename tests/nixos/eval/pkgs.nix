# Stand-ins for the packages the modules name: derivation-shaped attribute
# sets (lib.isDerivation holds, so types.package accepts them), never built.
{ lib }:
let
  drv = name: extra: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
    drvPath = "/nix/store/00000000000000000000000000000000-${name}.drv";
  } // extra;
  nextcloud = version: drv "nextcloud-${version}" {
    packages.apps.user_oidc = drv "nextcloud-app-user_oidc" { };
  };
in
{
  postgresql_15 = drv "postgresql-15" { };
  nextcloud32 = nextcloud "32";
  nextcloud33 = nextcloud "33";
  coreutils = drv "coreutils" { };
  curl = drv "curl" { };
  writeText = name: text: drv name { inherit text; };
  formats.yaml = { }: {
    type = lib.types.anything;
    generate = name: value: drv name { };
  };
}
