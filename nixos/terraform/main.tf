# One unprivileged NixOS container per service of the manifest, with the
# manifest's static address, DNS and VLAN. The NixOS configuration itself is
# deployed afterwards over SSH (nixosConfigurations.<service>); nothing here
# orders the containers: that is the console's job (depends_on waves).
provider "proxmox" {
  # Endpoint and credentials come from PROXMOX_VE_ENDPOINT, PROXMOX_VE_API_TOKEN, ...
}

resource "proxmox_virtual_environment_container" "service" {
  for_each = var.containers

  node_name     = var.node_name
  description   = each.value.description
  tags          = each.value.tags
  unprivileged  = true
  start_on_boot = true
  started       = true

  # NixOS in an LXC container needs nesting (systemd's own namespaces).
  features {
    nesting = true
  }

  operating_system {
    template_file_id = var.template_file_id
    type             = "nixos"
  }

  cpu {
    cores = each.value.cores
  }

  memory {
    dedicated = each.value.memory
  }

  disk {
    datastore_id = var.datastore_id
    size         = each.value.disk_size
  }

  network_interface {
    name    = each.value.interface
    bridge  = each.value.bridge
    vlan_id = each.value.vlan_id
  }

  initialization {
    hostname = each.value.hostname

    dns {
      domain  = each.value.dns_domain
      servers = each.value.dns_servers
    }

    ip_config {
      ipv4 {
        address = each.value.ipv4_address
        gateway = each.value.ipv4_gateway
      }
    }

    user_account {
      keys = var.ssh_public_keys
    }
  }
}
