# One NixOS host per enabled service: names, addressing and firewall, as the
# modules under nixos/modules apply them (see modules/core.nix).
#
# Firewall: a proxied service's upstream port is not open to the network,
# only to the reverse proxy and to its direct clients (nothing on the LAN
# reaches an application around forward_auth); the database port only to the
# hosts that have a database.
{ manifest, settings ? { } }:
let
  u = import ./util.nix;
  cfg = import ./settings.nix settings;
  svcs = import ./services.nix { inherit manifest; };
  net = manifest.network;
  cidr = u.parseCidr "network.network_cidr" net.network_cidr;
  caddy = import ./caddy.nix { inherit manifest settings; };
  proxyHost = svcs.all.${cfg.caddy.service} or null;

  pg = import ./postgresql.nix { inherit manifest settings; };
  ipOf = n: svcs.enabled.${n}.ip;

  # Who may open a TCP connection to a port that is not public: the reverse
  # proxy (for a proxied upstream) and settings.firewall.directClients, or a
  # database's clients (for the database server's port).
  directClients = name: builtins.filter (n: n != name && svcs.enabled ? ${n}) (cfg.firewall.directClients.${name} or [ ]);

  mkHost = name: s:
    let
      labels = u.splitFirstDot s.hostname;
      p = s.interface.proxy;
      db = s.interface.db;
      isProxy = name == cfg.caddy.service;
      isDbServer = db != null && db.mode == "standalone";
      # The upstream port of this host's own site (when Caddy has one for it).
      upstreamPort =
        if p != null && p.upstream_host == s.ip && caddy.sites ? ${name} then p.upstream_port else null;
      restricted =
        u.optional (upstreamPort != null) {
          port = upstreamPort;
          from = u.sortedUnique (u.optional (proxyHost != null && svcs.enabled ? ${proxyHost.name}) proxyHost.ip
            ++ map ipOf (directClients name));
        }
        ++ u.optional isDbServer {
          port = db.port;
          from = u.sortedUnique (map (d: d.client_ip) (builtins.attrValues pg.databases));
        };
      restrictedPorts = map (r: r.port) restricted;
      public =
        builtins.filter (port: !(builtins.elem port restrictedPorts)) s.ports
        # the reverse proxy serves every site to everyone
        ++ u.optionals isProxy [ 80 443 ];
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
      # allowedTCPPorts: open to the whole network. restrictedTCPPorts: each
      # port reachable only from the listed addresses (localhost always).
      firewall = {
        allowedTCPPorts = u.sortedUnique public;
        restrictedTCPPorts = builtins.sort (a: b: a.port < b.port) restricted;
      };
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
