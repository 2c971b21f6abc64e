from django.db import models


class Note(models.Model):
    text = models.CharField(max_length=50)
    person = models.ForeignKey("crossing_people.Person", models.CASCADE)
