output "container_ids" {
  description = "Proxmox VM id of each service's container."
  value       = { for name, c in proxmox_virtual_environment_container.service : name => c.vm_id }
}
