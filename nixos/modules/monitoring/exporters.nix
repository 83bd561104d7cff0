{ config, lib, nixmox, ... }:

let
  prometheus = nixmox.services.enabled.${config.services.nixmox.prometheus.service} or null;
in
{
  options.services.nixmox.nodeExporter.enable = lib.mkOption {
    type = lib.types.bool;
    default = prometheus != null;
    defaultText = lib.literalExpression "the manifest has an enabled Prometheus service";
    description = "Run the Prometheus node exporter, open to the Prometheus host only.";
  };

  config = lib.mkIf config.services.nixmox.nodeExporter.enable {
    services.prometheus.exporters.node = {
      enable = true;
      port = 9100;
      openFirewall = true;
      firewallFilter = "-p tcp -s ${prometheus.ip} -m tcp --dport 9100";
      enabledCollectors = [ "systemd" ];
    };
  };
}
