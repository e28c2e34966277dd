package redisguardprom_test

import (
	"log"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/redisguard/redisguard/extra/redisguardprom"
	"github.com/redisguard/redisguard/profiles"
)

// A client built from a profile, its figures served on /metrics. It only
// registers the handler and prints nothing, so it has no Output section.
func ExampleNewCollector() {
	rdb, err := profiles.NewClient(profiles.API())
	if err != nil {
		log.Fatal(err)
	}
	defer rdb.Close()
	col, err := redisguardprom.NewCollector(rdb, redisguardprom.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer col.Close()
	reg := prometheus.NewRegistry()
	prometheus.WrapRegistererWith(prometheus.Labels{"client": "api"}, reg).MustRegister(col)
	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
}
