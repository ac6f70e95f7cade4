variable "name" {
  type    = string
  default = "db"
}
