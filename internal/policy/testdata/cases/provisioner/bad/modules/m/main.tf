resource "terraform_data" "m" {
  provisioner "file" { # expect: provisioner
    source      = "x"
    destination = "/tmp/x"
  }
}
