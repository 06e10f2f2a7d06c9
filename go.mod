module github.com/cgiref/cgiref

go 1.25.0

require (
	github.com/coreos/go-systemd/v22 v22.7.0
	github.com/yookoala/gofast v0.8.0
	golang.org/x/sys v0.47.0
	golang.org/x/text v0.40.0
)

require golang.org/x/tools/godoc v0.1.0-deprecated // indirect
