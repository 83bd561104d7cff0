# Proxmox LXC containers, one per enabled service, as the value of the typed
# variable `containers` of the Terraform root module nixos/terraform/ (bpg
# provider): `tfvars` is the whole *.auto.tfvars.json, {"containers": {...}}.
#
#   nix-instantiate --eval --strict --json nixos/terraform/tfvars.nix \
#     > nixos/terraform/containers.auto.tfvars.json
#
# Every attribute here is one of the variable's object type, no more and no
# less (Terraform rejects a missing one and drops an unknown one silently).
# No ordering: containers are independent; the deploy order is the console's
# (depends_on waves), not Terraform's.
{ manifest, settings ? { } }:
let
  cfg = (import ./settings.nix settings).terraform;
  svcs = import ./services.nix { inherit manifest; };
  hosts = (import ./hosts.nix { inherit manifest settings; }).hosts;

  # A per-service size from interface.terraform.variables, else the default.
  size = s: key:
    let v = s.interface.terraform.variables.${key} or cfg.${key};
    in if builtins.isInt v && v > 0 then v
       else throw "nixmox: ${s.group}.${s.name}.interface.terraform.variables.${key}: ${builtins.toJSON v} is not a positive whole number";

  mkContainer = name: s:
    let h = hosts.${name}; in
    {
      hostname = h.hostName;
      description = "NixMox ${s.group}.${name} (${h.fqdn}), from the service manifest";
      ipv4_address = h.address;
      ipv4_gateway = h.gateway;
      dns_domain = h.domain;
      dns_servers = h.nameservers;
      bridge = cfg.bridge;
      interface = cfg.interface;
      vlan_id = h.vlan;
      cores = size s "cores";
      memory = size s "memory";
      disk_size = size s "disk_size";
      tags = cfg.tags ++ [ (if s.group == "core_services" then "core" else "app") ];
    };

  containers = builtins.mapAttrs mkContainer svcs.enabled;
in
{
  inherit containers;
  tfvars = { inherit containers; };
}
