/* The kernel's floor under a health probe: what the cheapest possible client pays the
 * kernel for one probe over loopback, measured the way benches/load.sh measures hadns's
 * probes (CPU time of the probing process, per probe).
 *
 * An HTTP probe is a connect, one GET, reading to the end, close; a TCP probe is a
 * connect and close. Probes are paced at RATE a second. With BURST 1 each is made on its
 * own, blocking, and pays for a sleep and a wake-up; with BURST n they go n at a time
 * (non-blocking, one epoll set), as hadns starts the probes that fall due together, so
 * the wake-ups are shared.
 *
 * usage: probe_floor http|tcp ADDR PORT PORTS RATE SECONDS [BURST]
 *   (tcp probes cycle through PORTS ports from PORT; http probes all go to PORT) */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *REQ = "GET /0 HTTP/1.1\r\nHost: 127.0.0.2\r\nUser-Agent: probe_floor\r\n"
                         "Accept: */*\r\nConnection: close\r\n\r\n";
static double usec(struct timeval t) { return t.tv_sec * 1e6 + t.tv_usec; }

/* One probe, blocking. Returns 0 when it succeeded. */
static int probe_one(int http, struct sockaddr_in *sa) {
  char buf[4096];
  int fd = socket(AF_INET, SOCK_STREAM, 0), bad = 0;
  if (fd < 0 || connect(fd, (struct sockaddr *)sa, sizeof *sa) != 0) {
    bad = 1;
  } else if (http) {
    if (write(fd, REQ, strlen(REQ)) < 0) bad = 1;
    while (read(fd, buf, sizeof buf) > 0) {}
  }
  if (fd >= 0) close(fd);
  return bad;
}

/* n probes at once, non-blocking, on one epoll set. Returns how many failed. */
static int probe_burst(int http, struct sockaddr_in *sa, int port, int ports, long first, int n,
                       int ep) {
  char buf[4096];
  struct epoll_event ev, evs[64];
  int open = 0, bad = 0;
  for (int i = 0; i < n; i++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sa->sin_port = htons(port + (http ? 0 : (first + i) % ports));
    if (fd < 0 || (connect(fd, (struct sockaddr *)sa, sizeof *sa) != 0 && errno != EINPROGRESS)) {
      bad++;
      if (fd >= 0) close(fd);
      continue;
    }
    ev.events = EPOLLOUT;
    ev.data.u64 = (unsigned long)fd; /* bit 32: the request is sent */
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    open++;
  }
  while (open > 0) {
    int k = epoll_wait(ep, evs, 64, 5000);
    if (k <= 0) return bad + open;
    for (int j = 0; j < k; j++) {
      int fd = (int)(evs[j].data.u64 & 0xffffffff), sent = (evs[j].data.u64 >> 32) & 1, err = 0;
      socklen_t len = sizeof err;
      int done = 0;
      if (!sent) {
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0 || !http) {
          bad += err != 0;
          done = 1;
        } else if (write(fd, REQ, strlen(REQ)) < 0) {
          bad++;
          done = 1;
        } else {
          ev.events = EPOLLIN;
          ev.data.u64 = (unsigned long)fd | (1UL << 32);
          epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
        }
      } else {
        ssize_t r;
        while ((r = read(fd, buf, sizeof buf)) > 0) {}
        if (r == 0 || errno != EAGAIN) done = 1;
      }
      if (done) {
        close(fd); /* leaves the epoll set with it */
        open--;
      }
    }
  }
  return bad;
}

int main(int argc, char **argv) {
  if (argc != 7 && argc != 8) {
    fprintf(stderr, "usage: probe_floor http|tcp ADDR PORT PORTS RATE SECONDS [BURST]\n");
    return 2;
  }
  int http = strcmp(argv[1], "http") == 0;
  int port = atoi(argv[3]), ports = atoi(argv[4]), rate = atoi(argv[5]);
  int burst = argc == 8 ? atoi(argv[7]) : 1;
  long n = (long)rate * atoi(argv[6]);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  if (burst < 1 || inet_pton(AF_INET, argv[2], &sa.sin_addr) != 1) return 2;
  long gap_ns = 1000000000L / rate * burst;
  int ep = epoll_create1(0);
  long failed = 0;
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  struct rusage a, b;
  getrusage(RUSAGE_SELF, &a);
  for (long i = 0; i < n; i += burst) {
    if (burst == 1) {
      sa.sin_port = htons(port + (http ? 0 : i % ports));
      failed += probe_one(http, &sa);
    } else {
      failed += probe_burst(http, &sa, port, ports, i, burst, ep);
    }
    next.tv_nsec += gap_ns;
    while (next.tv_nsec >= 1000000000L) {
      next.tv_nsec -= 1000000000L;
      next.tv_sec++;
    }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
  }
  getrusage(RUSAGE_SELF, &b);
  double user = usec(b.ru_utime) - usec(a.ru_utime), sys = usec(b.ru_stime) - usec(a.ru_stime);
  printf("%ld %.1f %.1f %ld\n", n, (user + sys) / n, user / n, failed);
  return failed != 0;
}
