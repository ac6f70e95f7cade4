terraform {
  backend "gcs" {}
}

resource "terraform_data" "run" {
  provisioner "local-exec" { # expect: provisioner
    command = "env"
  }
  provisioner "remote-exec" { # expect: provisioner
    inline = ["id"]
  }
}

removed {
  from = terraform_data.old
  lifecycle {
    destroy = true
  }
  provisioner "local-exec" { # expect: provisioner
    when    = destroy
    command = "env"
  }
}

module "m" {
  source = "../../../modules/m"
}
