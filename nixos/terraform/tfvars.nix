# The whole containers.auto.tfvars.json for this Terraform root module, from
# nixos/service-manifest.nix:
#
#   nix-instantiate --eval --strict --json nixos/terraform/tfvars.nix \
#     > nixos/terraform/containers.auto.tfvars.json
(import ../lib { manifest = import ../service-manifest.nix; }).terraform.tfvars
