// store-hello: answers every HTTP request on $PORT (default 8080) with
// $MESSAGE. Linked statically, it is the whole root filesystem of the
// store-hello pack's container image (see make-image.sh), so the image is
// a few hundred KiB and needs nothing from a registry.
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

// As PID 1 in a container the kernel ignores SIGTERM unless a handler is
// installed: without one every pod stop would wait for the grace period.
static void on_term(int sig) {
  (void)sig;
  _exit(0);
}

int main(void) {
  const char* message = getenv("MESSAGE");
  const char* port_text = getenv("PORT");
  int port = port_text ? atoi(port_text) : 8080;
  if (!message) message = "hello from a preloaded image";
  signal(SIGTERM, on_term);
  signal(SIGINT, on_term);

  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (s < 0 || bind(s, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(s, 16) != 0) {
    perror("store-hello: listen");
    return 1;
  }
  char response[1024];
  int n = snprintf(response, sizeof response,
                   "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n%s\n",
                   message);
  if (n < 0 || (size_t)n >= sizeof response) n = (int)strlen(response);
  for (;;) {
    int c = accept(s, NULL, NULL);
    if (c < 0) continue;
    char request[2048];
    (void)read(c, request, sizeof request);  // the answer is the same for every request
    (void)write(c, response, (size_t)n);
    close(c);
  }
}
