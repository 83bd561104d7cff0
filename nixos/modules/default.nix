# All NixMox modules. Every host imports all of them; each service module
# switches itself on when this host is the manifest service it serves
# (services.nixmox.<module>.service, default: the module's name).
{
  imports = [
    ./core.nix
    ./caddy
    ./postgresql
    ./authentik
    ./dns
    ./vaultwarden.nix
    ./guacamole.nix
    ./nextcloud.nix
    ./miniflux.nix
    ./wikijs.nix
    ./jellyfin.nix
    ./homepage.nix
    ./monitoring
  ];
}
