# Caddy, the reverse proxy for every proxied service: its whole Caddyfile is
# nixos/lib/caddy.nix's, generated from the manifest (sites, TLS with the
# internal-CA wildcard certificate, security headers, forward_auth to Authentik).
{ config, lib, nixmox, ... }:

let
  cfg = config.services.nixmox.caddy;
  paths = nixmox.settings.caddy;
  svc = nixmox.service cfg.service;
in
{
  options.services.nixmox.caddy = {
    enable = lib.mkOption {
      type = lib.types.bool;
      default = config.nixmox.host == cfg.service;
      defaultText = lib.literalExpression ''config.nixmox.host == config.services.nixmox.caddy.service'';
      description = "Run the NixMox reverse proxy on this host.";
    };
    service = lib.mkOption {
      type = lib.types.str;
      default = nixmox.settings.caddy.service;
      description = "The manifest service that is the reverse proxy.";
    };
  };

  config = lib.mkIf cfg.enable {
    services.caddy = {
      enable = true;
      # Certificates come from the internal CA; never ask a public ACME CA.
      globalConfig = ''
        auto_https disable_certs
      '';
      extraConfig = nixmox.caddy.caddyfile;
    };

    # The wildcard certificate and key at the paths the Caddyfile names.
    sops.secrets."${cfg.service}/wildcard_cert" = {
      path = paths.certFile;
      owner = config.services.caddy.user;
      restartUnits = [ "caddy.service" ];
    };
    sops.secrets."${cfg.service}/wildcard_key" = {
      path = paths.keyFile;
      owner = config.services.caddy.user;
      mode = "0400";
      restartUnits = [ "caddy.service" ];
    };

    assertions = [{
      assertion = config.nixmox.host == cfg.service || svc != null;
      message = "services.nixmox.caddy: ${cfg.service} is not in the manifest";
    }];
  };
}
