module github.com/cloudrole/cloudrole

go 1.26

require (
	github.com/jonboulle/clockwork v0.5.0
	github.com/netresearch/go-cron v0.9.1
	github.com/oklog/run v1.2.0
	github.com/sethvargo/go-retry v0.5.0
	go.uber.org/goleak v1.3.0
	go.yaml.in/yaml/v3 v3.0.6
)
