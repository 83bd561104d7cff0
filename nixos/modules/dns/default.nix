# The network's DNS server (Blocky): answers every host name and every
# proxied domain of the manifest (nixos/lib/hosts.nix dnsRecords; proxied
# domains point at Caddy), forwards the rest.
{ config, lib, nixmox, ... }:

let
  cfg = config.services.nixmox.dns;
  svc = nixmox.service cfg.service;
  httpPort = svc.interface.proxy.upstream_port or 4000;
in
{
  options.services.nixmox.dns = {
    enable = lib.mkOption {
      type = lib.types.bool;
      default = config.nixmox.host == cfg.service;
      defaultText = lib.literalExpression ''config.nixmox.host == config.services.nixmox.dns.service'';
      description = "Run the NixMox DNS server on this host.";
    };
    service = lib.mkOption {
      type = lib.types.str;
      default = "dns";
      description = "The manifest service that is the DNS server.";
    };
    upstreams = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ "9.9.9.9" "1.1.1.1" ];
      description = "Resolvers for names outside the manifest.";
    };
  };

  config = lib.mkIf cfg.enable {
    services.blocky = {
      enable = true;
      settings = {
        ports = {
          dns = 53;
          http = httpPort;
        };
        upstreams.groups.default = cfg.upstreams;
        customDNS = {
          customTTL = "5m";
          mapping = nixmox.hosts.dnsRecords;
        };
        prometheus.enable = true;
      };
    };
    # TCP 53 and the HTTP port come from the manifest (host firewall); UDP here.
    networking.firewall.allowedUDPPorts = [ 53 ];
  };
}
