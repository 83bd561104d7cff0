# The secrets plan for nixos/service-manifest.nix (see lib/sops.nix):
#
#   nix-instantiate --eval --strict --json nixos/secrets-plan.nix -A files
#   nix-instantiate --eval --strict --json nixos/secrets-plan.nix -A steps
#   nix --extra-experimental-features nix-command eval --raw \
#     -f nixos/secrets-plan.nix sopsYaml > nixos/.sops.yaml
let
  recipientsFile = ./secrets/recipients.nix;
in
import ./lib/sops.nix {
  manifest = import ./service-manifest.nix;
  recipients = if builtins.pathExists recipientsFile then import recipientsFile else { };
}
