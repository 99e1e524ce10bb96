# Real Redis, PostgreSQL and Kafka for every suite that asks for the `devstack` fixture.
pytest_plugins = ["trademesh_devstack.pytest_plugin"]
