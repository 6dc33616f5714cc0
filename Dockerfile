# The operator image: `docker build -t klt/lifecycle-operator:0.1.0 .`
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY lifecycle lifecycle
COPY evaluator evaluator
COPY tracing tracing
COPY sandbox sandbox
COPY deploy/crds deploy/crds
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
COPY --from=build /install /usr/local
COPY deploy/crds /usr/local/share/klt/crds
USER 65532:65532
EXPOSE 9443 2222 8081
ENTRYPOINT ["klt"]
CMD ["operator", "--in-cluster"]
