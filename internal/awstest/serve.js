// Starts kinesalite, dynalite or kinesis-local for internal/awstest.
//
// The emulators' own command lines listen on every interface and on a port
// the caller must choose; tests must bind to loopback only, and a port chosen
// by the kernel here cannot be taken by another process between choosing and
// binding. The port is printed on the first line of stdout for the harness.
//
// The process exits when its stdin closes, so an emulator never outlives the
// Go test binary that started it, however that binary ends.
'use strict'

var name = process.argv[2]
if (name !== 'kinesalite' && name !== 'dynalite' && name !== 'kinesis-local') {
  console.error('usage: node serve.js kinesalite|dynalite|kinesis-local')
  process.exit(2)
}

// Both emulators re-throw any error on an incoming request. Node raises one
// (ECONNRESET, "aborted") when a client closes its connection after the
// headers but before the whole body: a cancelled context, an SDK timeout or a
// killed process in the middle of a call. Left alone, that would crash the
// emulator for every later test of the binary; for a server, a client that
// went away is not an error.
process.on('uncaughtException', function (err) {
  if (err && err.code === 'ECONNRESET') return
  console.error(err && err.stack ? err.stack : String(err))
  process.exit(1)
})

if (name === 'kinesis-local') {
  serveKinesisLocal()
} else {
  // kinesalite refuses a stream past 10 shards in all, a limit no account
  // has (the service's default is 500 in the large regions, 200 elsewhere).
  // A test binary shares one kinesalite, so its tests run with -count=2 or
  // more would reach 10 with streams that earlier runs left: take the
  // service's 500.
  var options = name === 'kinesalite' ? { shardLimit: 500 } : {}
  var server = require(name)(options).listen(0, '127.0.0.1', function () {
    console.log('port ' + server.address().port)
  })
  server.on('error', function (err) {
    console.error(err && err.stack ? err.stack : String(err))
    process.exit(1)
  })
}

// kinesis-local (kinesis-mock compiled to JavaScript) is a program, not a
// module: it reads its ports from the environment, listens on every
// interface, and reads its TLS certificate (server.json) from the current
// directory. Here it runs from its own folder with ports chosen by the
// kernel, and every listen is held to loopback. It opens two servers: TLS
// (for HTTP/2, which enhanced fan-out needs) and plain HTTP, which is the one
// reported: the HTTP server is the one that answers a plain request.
function serveKinesisLocal () {
  var net = require('net')
  var http = require('http')
  var tls = require('tls')
  var path = require('path')
  var listen = net.Server.prototype.listen
  net.Server.prototype.listen = function () {
    var args = Array.prototype.slice.call(arguments)
    if (typeof args[0] === 'number' && typeof args[1] !== 'string') args.splice(1, 0, '127.0.0.1')
    else if (args[0] && typeof args[0] === 'object') args[0].host = '127.0.0.1'
    var srv = this
    srv.on('listening', function () {
      var port = srv.address().port
      // Probe it: the plain HTTP server answers a plain request, the TLS
      // one completes a handshake (its certificate is self-signed).
      var req = http.request({ host: '127.0.0.1', port: port, method: 'GET', path: '/' }, function (res) {
        res.resume()
        console.log('port ' + port)
      })
      req.on('error', function () {
        var sock = tls.connect({ host: '127.0.0.1', port: port, rejectUnauthorized: false }, function () {
          sock.end()
          console.log('tls ' + port)
        })
        sock.on('error', function () {})
      })
      req.setTimeout(3000, function () { req.destroy() })
      req.end()
    })
    srv.on('error', function (err) {
      console.error(err && err.stack ? err.stack : String(err))
      process.exit(1)
    })
    return listen.apply(this, args)
  }
  var dir = path.join(__dirname, 'node_modules', 'kinesis-local')
  process.chdir(dir)
  process.env.KINESIS_MOCK_PLAIN_PORT = '0'
  process.env.KINESIS_MOCK_TLS_PORT = '0'
  process.env.LOG_LEVEL = process.env.LOG_LEVEL || 'WARN'
  require(path.join(dir, 'main.js'))
}

process.stdin.on('end', function () { process.exit(0) })
process.stdin.on('error', function () { process.exit(0) })
process.stdin.resume()
