# The monitoring stack: Prometheus scraping every host of the manifest,
# Alertmanager, Loki, and Grafana with both as data sources. Every host runs
# the node exporter, reachable only from the Prometheus host.
{
  imports = [
    ./exporters.nix
    ./prometheus.nix
    ./alertmanager.nix
    ./loki.nix
    ./grafana.nix
  ];
}
