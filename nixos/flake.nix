{
  description = "NixMox: NixOS containers for a homelab, generated from one service manifest";

  # First step in a fresh checkout: `nix flake lock` (from nixos/), then commit
  # flake.lock: it pins every input below (README, nixos/).
  inputs = {
    # A supported NixOS release; move to the next one when it is out.
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";
    sops-nix = {
      url = "github:Mic92/sops-nix";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    # Authentik is not in nixpkgs' module set; this flake provides
    # services.authentik. It builds Authentik with its own locked nixpkgs:
    # its README says overriding that input (`follows`) is unsupported, so
    # flake.lock is what pins it.
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
        modules = [
          sops-nix.nixosModules.sops
          authentik-nix.nixosModules.default
          self.nixosModules.default
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

      # A real module (a function of { config, lib, ... }), not a path: it
      # declares nixmox.manifest/settings and derives its own arguments.
      nixosModules.default = import ./module.nix;

      # The generated artefacts, for inspection and for Terraform, e.g.
      #   nix eval --raw .#lib.nixmox.caddy.caddyfile
      #   nix eval --json .#lib.nixmox.terraform.tfvars > terraform/containers.auto.tfvars.json
      lib = { inherit nixmox; };
    };
}
