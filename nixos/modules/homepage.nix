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
      # The Host headers homepage answers: its proxied domain (Caddy passes
      # it on) and localhost for the console's health probe. nixpkgs turns
      # this into HOMEPAGE_ALLOWED_HOSTS itself.
      allowedHosts = lib.concatStringsSep "," [
        svc.interface.proxy.domain
        "localhost:${toString svc.interface.proxy.upstream_port}"
        "127.0.0.1:${toString svc.interface.proxy.upstream_port}"
      ];
    };
  };
}
