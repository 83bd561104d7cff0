{ config, lib, nixmox, ... }:

let
  cfg = config.services.nixmox.prometheus;
  svc = nixmox.service cfg.service;
  hosts = lib.attrValues nixmox.hosts.hosts;
  alertmanager = nixmox.services.enabled.${config.services.nixmox.alertmanager.service} or null;
  proxy = svc.interface.proxy;
in
{
  options.services.nixmox.prometheus = import ../service-options.nix {
    inherit lib config;
    name = "prometheus";
    what = "Prometheus";
  };

  config = lib.mkIf cfg.enable {
    services.prometheus = {
      enable = true;
      port = proxy.upstream_port;
      webExternalUrl = "https://${proxy.domain}${if proxy.path == "/" then "/" else proxy.path + "/"}";
      # Served at / behind Caddy (handle_path strips a proxied prefix).
      extraFlags = [ "--web.route-prefix=/" ];
      retentionTime = "30d";
      scrapeConfigs = [
        {
          job_name = "node";
          static_configs = map
            (h: {
              targets = [ "${h.ip}:9100" ];
              labels = { instance = h.fqdn; service = h.name; };
            })
            hosts;
        }
        {
          job_name = "prometheus";
          static_configs = [{ targets = [ "127.0.0.1:${toString proxy.upstream_port}" ]; }];
        }
      ];
      alertmanagers = lib.optional (alertmanager != null) {
        static_configs = [{ targets = [ alertmanager.interface.proxy.upstream or "${alertmanager.ip}:9093" ]; }];
      };
      rules = [
        (builtins.toJSON {
          groups = [{
            name = "nixmox";
            rules = [{
              alert = "HostDown";
              expr = ''up{job="node"} == 0'';
              "for" = "5m";
              labels.severity = "critical";
              annotations.summary = "{{ $labels.instance }} is not answering Prometheus";
            }];
          }];
        })
      ];
    };
  };
}
