# One NixOS host per enabled service: names, addressing and firewall, as the
# modules under nixos/modules apply them (see modules/core.nix).
{ manifest, settings ? { } }:
let
  u = import ./util.nix;
  cfg = import ./settings.nix settings;
  svcs = import ./services.nix { inherit manifest; };
  net = manifest.network;
  cidr = u.parseCidr "network.network_cidr" net.network_cidr;
  caddy = import ./caddy.nix { inherit manifest settings; };
  proxyHost = svcs.all.${cfg.caddy.service} or null;

  mkHost = name: s:
    let
      labels = u.splitFirstDot s.hostname;
      p = s.interface.proxy;
      db = s.interface.db;
      tcp =
        s.ports
        # the proxy upstream, when it is this host
        ++ u.optional (p != null && p.upstream_host == s.ip) p.upstream_port
        # the database server's port
        ++ u.optional (db != null && db.mode == "standalone") db.port
        # the reverse proxy serves every site
        ++ u.optionals (name == cfg.caddy.service) [ 80 443 ];
    in
    {
      inherit name;
      inherit (s) ip;
      hostName = builtins.elemAt labels 0;
      domain = let d = builtins.elemAt labels 1; in if d == "" then net.domain else d;
      fqdn = s.hostname;
      prefixLength = cidr.prefixLength;
      address = "${s.ip}/${toString cidr.prefixLength}";
      gateway = net.gateway;
      nameservers = u.optional (net ? dns_server) net.dns_server;
      search = [ net.domain ];
      vlan = net.vlan_tag or null;
      firewall.allowedTCPPorts = u.sortedUnique tcp;
      units = [ s.interface.logs.unit ];
      depends_on = builtins.filter (d: svcs.enabled ? ${d}) s.depends_on;
    };

  hosts = builtins.mapAttrs mkHost svcs.enabled;

  # Name -> address records for the network's DNS server: every host name,
  # and every proxied domain pointing at the reverse proxy (a proxied domain
  # that is also a host name resolves to the proxy: that is how people reach it).
  hostRecords = builtins.listToAttrs (map (h: { name = h.fqdn; value = h.ip; }) (builtins.attrValues hosts));
  proxyRecords =
    if proxyHost == null || !(svcs.enabled ? ${proxyHost.name}) then { }
    else builtins.listToAttrs (map (n: { name = caddy.sites.${n}.domain; value = proxyHost.ip; }) caddy.proxiedNames);
in
{
  inherit hosts;
  # The NixOS configurations to build: exactly the enabled services.
  names = builtins.attrNames hosts;
  dnsRecords = hostRecords // proxyRecords;
}
