# The start page: one tile per proxied service of the manifest, grouped into
# core services and applications, each linking to its proxied URL.
{ config, lib, nixmox, ... }:

let
  cfg = config.services.nixmox.homepage;
  svc = nixmox.service cfg.service;
  sites = nixmox.caddy.sites;
  url = site: "${if site.tls then "https" else "http"}://${site.domain}${if site.path == "/" then "/" else site.path + "/"}";
  tiles = group: map
    (name: {
      ${name} = {
        href = url sites.${name};
        description = "${(nixmox.service name).hostname} (${(nixmox.service name).ip})";
      };
    })
    (lib.filter (name: (nixmox.service name).group == group) (lib.attrNames sites));
in
{
  options.services.nixmox.homepage = import ./service-options.nix {
    inherit lib config;
    name = "homepage";
    what = "the homepage dashboard";
  };

  config = lib.mkIf cfg.enable {
    services.homepage-dashboard = {
      enable = true;
      listenPort = svc.interface.proxy.upstream_port;
      services = [
        { "Core services" = tiles "core_services"; }
        { "Applications" = tiles "services"; }
      ];
      settings.title = "NixMox";
    };
    systemd.services.homepage-dashboard.environment.HOMEPAGE_ALLOWED_HOSTS =
      lib.concatStringsSep "," [ svc.interface.proxy.domain "${svc.ip}:${toString svc.interface.proxy.upstream_port}" ];
  };
}
