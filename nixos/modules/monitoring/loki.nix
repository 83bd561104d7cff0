{ config, lib, nixmox, ... }:

let
  cfg = config.services.nixmox.loki;
  svc = nixmox.service cfg.service;
  port = svc.interface.proxy.upstream_port;
  dir = config.services.loki.dataDir;
in
{
  options.services.nixmox.loki = import ../service-options.nix {
    inherit lib config;
    name = "loki";
    what = "Loki";
  };

  config = lib.mkIf cfg.enable {
    services.loki = {
      enable = true;
      configuration = {
        auth_enabled = false;
        server = {
          http_listen_port = port;
          grpc_listen_port = 9096;
        };
        common = {
          instance_addr = "127.0.0.1";
          path_prefix = dir;
          replication_factor = 1;
          ring.kvstore.store = "inmemory";
          storage.filesystem = {
            chunks_directory = "${dir}/chunks";
            rules_directory = "${dir}/rules";
          };
        };
        schema_config.configs = [{
          from = "2024-01-01";
          store = "tsdb";
          object_store = "filesystem";
          schema = "v13";
          index = {
            prefix = "index_";
            period = "24h";
          };
        }];
        limits_config.retention_period = "744h";
        compactor = {
          working_directory = "${dir}/compactor";
          retention_enabled = true;
          delete_request_store = "filesystem";
        };
      };
    };
  };
}
