package soak

import (
	"errors"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsServer is the NATS server with JetStream the replicator publishes to
// and the follower reads from, run inside the soak process (the faults are
// the database's and deltalog's, not the broker's), with the soak's own
// client of it.
type natsServer struct {
	srv *server.Server
	url string
	nc  *nats.Conn
	js  jetstream.JetStream
}

// startNATS starts the server on a free loopback port, storing its
// streams under dir.
func startNATS(dir string) (*natsServer, error) {
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true,
	})
	if err != nil {
		return nil, err
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("soak: the NATS server did not start")
	}
	n := &natsServer{srv: srv, url: srv.ClientURL()}
	if n.nc, err = nats.Connect(n.url, nats.Name("deltalog soak")); err == nil {
		n.js, err = jetstream.New(n.nc)
	}
	if err != nil {
		n.shutdown()
		return nil, err
	}
	return n, nil
}

func (n *natsServer) shutdown() {
	if n.nc != nil {
		n.nc.Close()
	}
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
}
