host: ${file("/etc/hostname")}
