/*
 * A fast Modbus TCP server for the benchmarks (bench/README in BENCHMARKS.md): libmodbus 3.1 from
 * Debian's libmodbus-dev, one thread, a select() loop over any number of connections, answering
 * every unit id (libmodbus's TCP backend does not filter by unit). No timers: each request is
 * answered as soon as it is read, unlike modbus-serial's ServerTCP (setTimeout 0, ~800 req/s).
 *
 * Holding and input registers 0..65535 hold float32 values (ABCD) 1.5, 2.5, ... repeating, so a
 * gateway decodes real, varying numbers. Prints "listening <port>" once ready.
 *
 * Build: gcc -O2 -o bench/.build/modbus-server bench/modbus-server.c $(pkg-config --cflags --libs libmodbus)
 * Run:   bench/.build/modbus-server [port]   (0 or absent: a free port, printed)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <modbus.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 0;
  signal(SIGPIPE, SIG_IGN);
  modbus_t *ctx = modbus_new_tcp("127.0.0.1", port);
  modbus_mapping_t *map = modbus_mapping_new(0, 0, 65536, 65536);
  if (ctx == NULL || map == NULL) {
    fprintf(stderr, "modbus-server: cannot allocate: %s\n", modbus_strerror(errno));
    return 1;
  }
  for (int i = 0; i + 1 < 65536; i += 2) {
    union { float f; uint32_t u; } v;
    v.f = (float)((i / 2) % 1000) + 1.5f;
    map->tab_registers[i] = map->tab_input_registers[i] = (uint16_t)(v.u >> 16);
    map->tab_registers[i + 1] = map->tab_input_registers[i + 1] = (uint16_t)(v.u & 0xffff);
  }
  /* modbus_tcp_listen binds the port given to modbus_new_tcp; for port 0 bind ourselves. */
  int server = socket(AF_INET, SOCK_STREAM, 0);
  int yes = 1;
  setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(server, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(server, 1024) != 0) {
    fprintf(stderr, "modbus-server: cannot listen on %d: %s\n", port, strerror(errno));
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(server, (struct sockaddr *)&addr, &len);
  printf("listening %d\n", ntohs(addr.sin_port));
  fflush(stdout);

  fd_set all;
  FD_ZERO(&all);
  FD_SET(server, &all);
  int maxfd = server;
  uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
  for (;;) {
    fd_set ready = all;
    if (select(maxfd + 1, &ready, NULL, NULL, NULL) < 0) {
      if (errno == EINTR) continue;
      perror("select");
      return 1;
    }
    for (int fd = 0; fd <= maxfd; fd++) {
      if (!FD_ISSET(fd, &ready)) continue;
      if (fd == server) {
        int c = accept(server, NULL, NULL);
        if (c < 0) continue;
        if (c >= FD_SETSIZE) {
          close(c);
          continue;
        }
        FD_SET(c, &all);
        if (c > maxfd) maxfd = c;
        continue;
      }
      modbus_set_socket(ctx, fd);
      int rc = modbus_receive(ctx, query);
      if (rc > 0) {
        modbus_reply(ctx, query, rc, map);
      } else if (rc == -1) {
        close(fd);
        FD_CLR(fd, &all);
      }
    }
  }
}
