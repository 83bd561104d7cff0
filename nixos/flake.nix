{
  description = "NixMox: NixOS containers for a homelab, generated from one service manifest";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.05";
    sops-nix = {
      url = "github:Mic92/sops-nix";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    # Authentik is not in nixpkgs' module set; this flake provides services.authentik.
    authentik-nix.url = "github:nix-community/authentik-nix";
  };

  outputs = { self, nixpkgs, sops-nix, authentik-nix, ... }:
    let
      system = "x86_64-linux";
      manifest = import ./service-manifest.nix;
      # Everything derived from the manifest (pure Nix, see lib/default.nix).
      nixmox = import ./lib { inherit manifest; };

      # One NixOS configuration per enabled service of the manifest: the host
      # list is the manifest's, never written by hand here (see hosts.nix).
      hostNames = import ./hosts.nix { };

      mkHost = name: nixpkgs.lib.nixosSystem {
        inherit system;
        specialArgs = { inherit manifest nixmox; };
        modules = [
          sops-nix.nixosModules.sops
          authentik-nix.nixosModules.default
          ./modules
          { nixmox.host = name; }
        ]
        # A host gets a file of its own only when it needs something the
        # manifest cannot say (see hosts/).
        ++ (let own = ./hosts + "/${name}.nix"; in if builtins.pathExists own then [ own ] else [ ]);
      };
    in
    {
      nixosConfigurations = builtins.listToAttrs
        (map (name: { inherit name; value = mkHost name; }) hostNames);

      nixosModules.default = ./modules;

      # The generated artefacts, for inspection and for Terraform, e.g.
      #   nix eval --raw .#nixmox.caddy.caddyfile
      #   nix eval --json .#nixmox.terraform.containers > containers.auto.tfvars.json
      nixmox = nixmox;
    };
}
