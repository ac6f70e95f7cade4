# Resolved from the module's own directory this stays in the repository;
# terraform resolves it from the project directory, where it leaves it.
output "x" {
  value = file("../../../../../../../../../../etc/hostname")
}
