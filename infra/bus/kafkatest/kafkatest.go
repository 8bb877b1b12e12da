// Package kafkatest starts the in-process Kafka-protocol broker (kfake) for tests, with the topics
// the bus uses, and finds addresses where one can be started later (tests of Kafka being down).
package kafkatest

import (
	"net"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/commerce-dev/commerce/infra/bus"
)

// FreeAddr returns a local address nothing listens on, and its port.
func FreeAddr(t testing.TB) (string, int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	_, portText, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portText)
	return addr, port
}

// Start starts a one-broker cluster with the bus's topics (8 partitions each) on port, any free
// port when 0, and closes it when the test ends. It may be called from any goroutine.
func Start(t testing.TB, port int) (*kfake.Cluster, error) {
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(8, bus.Topics()...)}
	if port != 0 {
		opts = append(opts, kfake.Ports(port))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, err
	}
	t.Cleanup(c.Close)
	return c, nil
}
