# The NixOS hosts flake.nix builds, without nixpkgs: one per enabled service
# of the manifest (tests compare this with the manifest; flake.nix uses it).
{ manifestPath ? ./service-manifest.nix }:
(import ./lib { manifest = import manifestPath; }).hosts.names
