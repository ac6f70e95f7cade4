data "external" "x" {
  program = ["id"]
}
