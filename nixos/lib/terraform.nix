# Proxmox LXC container specs, one per enabled service, for Terraform
# (nix-instantiate --eval --strict --json ... > containers.auto.tfvars.json).
{ manifest, settings ? { } }:
let
  u = import ./util.nix;
  cfg = (import ./settings.nix settings).terraform;
  svcs = import ./services.nix { inherit manifest; };
  hosts = (import ./hosts.nix { inherit manifest settings; }).hosts;
  oidc = (import ./oidc.nix { inherit manifest settings; }).clients;

  mkContainer = name: s:
    let
      h = hosts.${name};
      tf = s.interface.terraform;
    in
    {
      hostname = h.hostName;
      fqdn = h.fqdn;
      ip = h.address;
      inherit (h) gateway nameservers;
      searchdomain = h.domain;
      vlan_tag = h.vlan;
      network = {
        name = cfg.interface;
        bridge = cfg.bridge;
        ip = h.address;
        gw = h.gateway;
        tag = h.vlan;
      };
      inherit (tf) modules targets variables;
      depends_on = h.depends_on;
      oidc =
        if !(oidc ? ${name}) then null
        else
          let c = oidc.${name}; in {
            inherit (c) provider slug client_id redirect_uris scopes;
            client_secret = { inherit (c.client_secret) sopsFile key; };
          };
    };
in
{
  containers = builtins.mapAttrs mkContainer svcs.enabled;
}
