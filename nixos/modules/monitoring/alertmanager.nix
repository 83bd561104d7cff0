{ config, lib, nixmox, ... }:

let
  cfg = config.services.nixmox.alertmanager;
  svc = nixmox.service cfg.service;
  proxy = svc.interface.proxy;
in
{
  options.services.nixmox.alertmanager = import ../service-options.nix {
    inherit lib config;
    name = "alertmanager";
    what = "Alertmanager";
  };

  config = lib.mkIf cfg.enable {
    services.prometheus.alertmanager = {
      enable = true;
      port = proxy.upstream_port;
      # Public URL under the proxied prefix; routes stay at / because Caddy
      # strips the prefix (handle_path).
      webExternalUrl = "https://${proxy.domain}${if proxy.path == "/" then "/" else proxy.path + "/"}";
      extraFlags = [ "--web.route-prefix=/" ];
      configuration = {
        route = {
          receiver = "default";
          group_by = [ "alertname" "instance" ];
        };
        # Add a real receiver (email, webhook) on this host's own file.
        receivers = [{ name = "default"; }];
      };
    };
  };
}
