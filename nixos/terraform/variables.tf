# The containers, one per enabled service of the manifest: written by
# nixos/terraform/tfvars.nix (nixos/lib/terraform.nix) as
# containers.auto.tfvars.json, never by hand.
variable "containers" {
  description = "NixMox containers by service name, generated from the service manifest."
  type = map(object({
    hostname     = string
    description  = string
    ipv4_address = string
    ipv4_gateway = string
    dns_domain   = string
    dns_servers  = list(string)
    bridge       = string
    interface    = string
    vlan_id      = number
    cores        = number
    memory       = number
    disk_size    = number
    tags         = list(string)
  }))

  validation {
    condition     = alltrue([for c in values(var.containers) : can(cidrhost(c.ipv4_address, 0))])
    error_message = "Every container's ipv4_address must be an address with its prefix length (CIDR), as the manifest gives it."
  }
}

# Where the containers go: the operator's Proxmox, not the manifest.
variable "node_name" {
  description = "Proxmox node that runs the containers."
  type        = string
}

variable "template_file_id" {
  description = "NixOS LXC template, as <datastore>:vztmpl/<file> (e.g. built with nixos-generators' proxmox-lxc format)."
  type        = string
}

variable "datastore_id" {
  description = "Datastore for the containers' root disks."
  type        = string
  default     = "local-lvm"
}

variable "ssh_public_keys" {
  description = "Keys allowed to log in as root on first boot (the NixMox console deploys over SSH)."
  type        = list(string)
  default     = []
}
